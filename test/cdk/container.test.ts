/**
 * The optional container data plane (lib/container-data-plane.ts), checked on the synthesized template: off
 * by default; when on, Fargate on arm64 behind an HTTPS-only load balancer with the given certificate,
 * autoscaling on CPU and on requests, the gateway function's grants and environment and nothing more, and
 * its endpoint handed to the function.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { HEALTH_CHECK_PATH } from '../../functions/adapters/load-balancer.js';
import { containerDataPlaneFromContext } from '../../lib/container-context.js';
import type { ContainerDataPlaneOptions } from '../../lib/container-data-plane.js';
import { deployConfigFromText } from '../../lib/deploy-config.js';
import { SealgateStack } from '../../lib/sealgate-stack.js';
import { environment, statements, type Statement } from './synth.js';

const CONFIG = `
backends:
  - name: aws
    type: s3
    region: us-east-1
    encryption:
      mode: aws-kms-envelope
      kms_key_id: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
default_backend: aws
buckets:
  - name: photos
    backend: aws
    backend_bucket: corp-photos-prod
credentials:
  - access_key_id: SGADMIN
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
`;

const CERTIFICATE = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
const ON: ContainerDataPlaneOptions = { certificateArn: CERTIFICATE, domainName: 's3.example.com' };

function stack(
  containerDataPlane: ContainerDataPlaneOptions | undefined,
  options: { outdir?: string; region?: string } = {},
) {
  const app = new App({ outdir: options.outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  return new SealgateStack(app, 'Test', {
    deploy: deployConfigFromText('test.yaml', CONFIG),
    logRetention: RetentionDays.TWO_WEEKS,
    containerDataPlane,
    env: options.region === undefined ? undefined : { region: options.region },
  });
}

const synth = (options: ContainerDataPlaneOptions | undefined) => Template.fromStack(stack(options));

/** The one container's definition, as the template writes it. */
function containerDefinition(template: Template): Record<string, unknown> {
  const [task] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as {
    Properties: { ContainerDefinitions: Record<string, unknown>[] };
  }[];
  expect(task.Properties.ContainerDefinitions).toHaveLength(1);
  return task.Properties.ContainerDefinitions[0];
}

function containerEnvironment(template: Template): Record<string, unknown> {
  const variables = containerDefinition(template).Environment as { Name: string; Value: unknown }[];
  return Object.fromEntries(variables.map((v) => [v.Name, v.Value]));
}

function logicalId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** `https://` and the load balancer's DNS name, as the template writes it. */
function loadBalancerEndpoint(template: Template) {
  const lb = logicalId(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
  return { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [lb, 'DNSName'] }]] };
}

/** One resource of the template by its logical id. */
function resource(template: Template, id: string): { Type: string; Properties: Record<string, unknown> } {
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  return resources[id];
}

const withoutSid = ({ Sid: _sid, ...rest }: Statement) => rest;

describe('the container data plane', () => {
  describe('by default', () => {
    const template = synth(undefined);

    it('is not deployed: no cluster, service, load balancer or VPC', () => {
      for (const type of [
        'AWS::ECS::Cluster',
        'AWS::ECS::Service',
        'AWS::ECS::TaskDefinition',
        'AWS::ElasticLoadBalancingV2::LoadBalancer',
        'AWS::ElasticLoadBalancingV2::Listener',
        'AWS::ApplicationAutoScaling::ScalableTarget',
        'AWS::EC2::VPC',
        'AWS::EC2::NatGateway',
      ]) {
        template.resourceCountIs(type, 0);
      }
      expect(Object.keys(template.toJSON().Outputs as object)).not.toContain('ContainerEndpoint');
    });

    it('leaves the gateway function without SEALGATE_CONTAINER_ENDPOINT', () => {
      expect(environment(template).SEALGATE_CONTAINER_ENDPOINT).toBeUndefined();
    });

    it('is off when the context does not turn it on', () => {
      expect(containerDataPlaneFromContext(new App().node)).toBeUndefined();
      const off = new App({ context: { containerDataPlane: 'false', certificateArn: CERTIFICATE } });
      expect(containerDataPlaneFromContext(off.node)).toBeUndefined();
    });
  });

  describe('when on', () => {
    const template = synth(ON);

    it('runs the gateway on Fargate, arm64, at the default size, with container insights', () => {
      template.resourceCountIs('AWS::ECS::Service', 1);
      template.hasResourceProperties('AWS::ECS::Service', { LaunchType: 'FARGATE' });
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        RequiresCompatibilities: ['FARGATE'],
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        Cpu: '1024',
        Memory: '2048',
      });
      template.hasResourceProperties('AWS::ECS::Cluster', {
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      });
    });

    it('logs to a log group of its own with the stack retention', () => {
      const logging = containerDefinition(template).LogConfiguration as {
        LogDriver: string;
        Options: Record<string, unknown>;
      };
      expect(logging.LogDriver).toBe('awslogs');
      const group = (logging.Options['awslogs-group'] as { Ref: string }).Ref;
      expect(resource(template, group)).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 14 },
      });
    });

    it('serves HTTPS only, with the given certificate and a TLS 1.2+ policy, and no HTTP listener', () => {
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Protocol: 'HTTPS',
        Port: 443,
        Certificates: [{ CertificateArn: CERTIFICATE }],
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      });
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
        Scheme: 'internet-facing',
        // A request that sends nothing until it is done may take as long as on the function URL.
        LoadBalancerAttributes: Match.arrayWith([{ Key: 'idle_timeout.timeout_seconds', Value: '900' }]),
      });
    });

    it('checks task health on the unauthenticated health path, and lets only the load balancer in', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        HealthCheckPath: HEALTH_CHECK_PATH,
        Matcher: { HttpCode: '200' },
        Port: 8080,
        TargetType: 'ip',
      });
      const service = logicalId(template, 'AWS::ECS::Service');
      const network = resource(template, service).Properties.NetworkConfiguration as {
        AwsvpcConfiguration: { SecurityGroups: { 'Fn::GetAtt': [string] }[] };
      };
      const groups = network.AwsvpcConfiguration.SecurityGroups;
      expect(groups).toHaveLength(1);
      const taskGroup = groups[0]['Fn::GetAtt'][0];
      expect(resource(template, taskGroup).Properties.SecurityGroupIngress).toBeUndefined();
      const lb = logicalId(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      const loadBalancerGroups = resource(template, lb).Properties.SecurityGroups as unknown[];
      expect(loadBalancerGroups).toHaveLength(1);
      const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')) as {
        Properties: Record<string, unknown>;
      }[];
      expect(ingress).toHaveLength(1);
      expect(ingress[0].Properties).toMatchObject({
        GroupId: { 'Fn::GetAtt': [taskGroup, 'GroupId'] },
        FromPort: 8080,
        ToPort: 8080,
        SourceSecurityGroupId: loadBalancerGroups[0],
      });
    });

    it('scales between the task counts on CPU and on requests per target', () => {
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        MinCapacity: 1,
        MaxCapacity: 4,
        ScalableDimension: 'ecs:service:DesiredCount',
      });
      template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 2);
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
          TargetValue: 60,
        },
      });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: {
          PredefinedMetricSpecification: {
            PredefinedMetricType: 'ALBRequestCountPerTarget',
            ResourceLabel: Match.anyValue(),
          },
          TargetValue: 1000,
        },
      });
    });

    it("gives the task role exactly the gateway function's data grants, each on named resources", () => {
      const task = statements(template, 'ContainerDataPlaneTaskRole');
      const gateway = statements(template).filter(
        (s) => !([] as string[]).concat(s.Action).some((a) => a.startsWith('logs:')),
      );
      expect(task.map((s) => s.Sid).sort()).toEqual(gateway.map((s) => s.Sid).sort());
      expect(task.map(withoutSid)).toEqual(expect.arrayContaining(gateway.map(withoutSid)));
      expect(task.map((s) => s.Sid)).toEqual(
        expect.arrayContaining(['ConfigTable', 'BackendObjects', 'JobExecutions', 'JobExecutionControl']),
      );
      for (const statement of task) {
        const resources = ([] as unknown[]).concat(statement.Resource);
        const actions = ([] as string[]).concat(statement.Action);
        expect(actions.some((a) => a === '*' || a.endsWith(':*'))).toBe(false);
        if (resources.includes('*')) expect(actions).toEqual(['s3:ListAllMyBuckets']);
      }
    });

    it('lets only ECS tasks of this account take the task role', () => {
      const roles = template.findResources('AWS::IAM::Role');
      const [, taskRole] = Object.entries(roles).find(([id]) => id.startsWith('ContainerDataPlaneTaskRole'))!;
      expect(JSON.stringify(taskRole)).toContain('aws:SourceAccount');
      expect(JSON.stringify(taskRole)).toContain('ecs-tasks.amazonaws.com');
    });

    it("passes the gateway function's environment, secret references unresolved, and no secret", () => {
      const container = containerDefinition(template);
      expect(container.Secrets).toBeUndefined();
      const variables = containerEnvironment(template);
      const gateway = environment(template);
      expect(Object.keys(variables).sort()).toEqual(
        [
          ...Object.keys(gateway).filter((name) => name !== 'SEALGATE_CONTAINER_ENDPOINT'),
          'AWS_REGION',
          'SEALGATE_PORT',
          'SEALGATE_REQUEST_TIMEOUT_MS',
        ].sort(),
      );
      expect(variables.SEALGATE_INITIAL_CONFIG).toBe(gateway.SEALGATE_INITIAL_CONFIG);
      expect(variables.SEALGATE_INITIAL_CONFIG).toContain('${secretsmanager:sealgate/admin}');
      expect(variables.SEALGATE_CONFIG_TABLE).toEqual(gateway.SEALGATE_CONFIG_TABLE);
      expect(variables.SEALGATE_JOB_STATE_MACHINE).toEqual(gateway.SEALGATE_JOB_STATE_MACHINE);
      // Within the jobs' write bound (the gateway function's 15 minutes).
      expect(variables.SEALGATE_REQUEST_TIMEOUT_MS).toBe(String(14 * 60_000));
      expect(container.ReadonlyRootFilesystem).toBe(true);
    });

    it('hands its endpoint to the gateway function as SEALGATE_CONTAINER_ENDPOINT, and outputs it', () => {
      expect(environment(template).SEALGATE_CONTAINER_ENDPOINT).toBe('https://s3.example.com');
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      expect(outputs.ContainerEndpoint.Value).toBe('https://s3.example.com');
      expect(JSON.stringify(outputs.ContainerAwsCliSetup.Value)).toContain(
        'endpoint_url https://s3.example.com',
      );
      expect(JSON.stringify(outputs.ContainerAwsCliSetup.Value)).toContain('addressing_style path');
      expect(JSON.stringify(outputs.ContainerSdkClientConfig.Value)).toContain(
        '\\"endpoint\\":\\"https://s3.example.com\\"',
      );
      expect(outputs.ContainerLoadBalancer.Value).toEqual({
        'Fn::GetAtt': [logicalId(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer'), 'DNSName'],
      });
    });

    it('runs the tasks in public subnets with no NAT gateway, S3 and DynamoDB through free gateway endpoints', () => {
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.hasResourceProperties('AWS::ECS::Service', {
        NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'ENABLED' } },
      });
      template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
      template.allResourcesProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' });
    });
  });

  describe('its options', () => {
    it("names the load balancer's DNS name as the endpoint without a domain name, and warns about TLS", () => {
      const built = stack({ certificateArn: CERTIFICATE });
      const template = Template.fromStack(built);
      expect(environment(template).SEALGATE_CONTAINER_ENDPOINT).toEqual(loadBalancerEndpoint(template));
      Annotations.fromStack(built).hasWarning('*', Match.stringLikeRegexp('no ACM certificate covers'));
    });

    it('sizes the tasks and their counts from its options', () => {
      const template = synth({
        ...ON,
        cpu: 2048,
        memoryMiB: 8192,
        minTasks: 2,
        maxTasks: 10,
        desiredTasks: 3,
        cpuTargetPercent: 50,
        requestsPerTarget: 400,
      });
      template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '2048', Memory: '8192' });
      template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 3 });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        MinCapacity: 2,
        MaxCapacity: 10,
      });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: { TargetValue: 50 },
      });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: { TargetValue: 400 },
      });
    });

    it('runs the tasks in private subnets behind NAT gateways when given some', () => {
      const template = synth({ ...ON, natGateways: 1 });
      template.resourceCountIs('AWS::EC2::NatGateway', 1);
      template.hasResourceProperties('AWS::ECS::Service', {
        NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      });
    });

    it('uses a prebuilt ECR image and lets the execution role pull it from that repository', () => {
      const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/sealgate/gateway:2026.12.1';
      const template = synth({ ...ON, image });
      expect(JSON.stringify(containerDefinition(template).Image)).toContain('sealgate/gateway:2026.12.1');
      const pull = statements(template, 'ContainerDataPlaneTaskExecutionRole').find((s) =>
        ([] as string[]).concat(s.Action).includes('ecr:BatchGetImage'),
      )!;
      expect(JSON.stringify(pull.Resource)).toContain(
        ':ecr:us-east-1:123456789012:repository/sealgate/gateway',
      );
    });

    it('uses an image from another registry as named, with no image asset to build', () => {
      const image = 'public.ecr.aws/example/sealgate@sha256:' + 'ab'.repeat(32);
      const template = synth({ ...ON, image });
      expect(containerDefinition(template).Image).toBe(image);
      expect(JSON.stringify(template.toJSON())).not.toContain('container-assets');
    });

    it('stages only the sources and the lockfile as the image build context, never node_modules, cdk.out or .git', () => {
      const outdir = mkdtempSync(join(tmpdir(), 'sealgate-cdk-out-'));
      try {
        (stack(ON, { outdir }).node.root as App).synth();
        const contexts = readdirSync(outdir).filter(
          (name) =>
            name.startsWith('asset.') && readdirSync(join(outdir, name)).includes('package-lock.json'),
        );
        expect(contexts).toHaveLength(1);
        const context = join(outdir, contexts[0]);
        expect(readdirSync(context).sort()).toEqual(
          [
            'deploy',
            'functions',
            'package-lock.json',
            'package.json',
            'tsconfig.build.json',
            'tsconfig.json',
          ].sort(),
        );
        expect(readdirSync(join(context, 'deploy', 'container'))).toEqual(['Dockerfile']);
        expect(readdirSync(join(context, 'functions', 'handlers'))).toContain('container.ts');
      } finally {
        rmSync(outdir, { recursive: true, force: true });
      }
    });
  });

  describe('refuses at synth', () => {
    it('a missing certificate, saying the HTTPS listener needs one', () => {
      for (const certificateArn of ['', undefined]) {
        expect(() => stack({ certificateArn } as ContainerDataPlaneOptions)).toThrow(
          /-c certificateArn: is required with the container data plane: its load balancer serves HTTPS only/,
        );
      }
    });

    it('a certificate that is not an ACM ARN, or is in another region than the stack', () => {
      expect(() => stack({ certificateArn: 'my-cert' })).toThrow(/"my-cert" is not an ACM certificate ARN/);
      expect(() => stack(ON, { region: 'eu-west-1' })).toThrow(
        /the certificate is in us-east-1, but a load balancer in eu-west-1 can use only a certificate of its own region/,
      );
    });

    it('a task size Fargate does not offer, and task counts autoscaling cannot keep', () => {
      expect(() => stack({ ...ON, cpu: 1024, memoryMiB: 512 })).toThrow(
        /-c containerMemoryMiB: 512 MiB does not go with 1024 CPU units on Fargate: from 2048 to 8192 MiB/,
      );
      expect(() => stack({ ...ON, cpu: 1000 })).toThrow(/-c containerCpu: 1000 is not a Fargate CPU size/);
      expect(() => stack({ ...ON, minTasks: 3, maxTasks: 2 })).toThrow(
        /-c containerMaxTasks: must be a whole number from 3 to 1000/,
      );
      expect(() => stack({ ...ON, minTasks: 0 })).toThrow(
        /-c containerMinTasks: must be a whole number from 1/,
      );
    });
  });

  describe('from the CDK context', () => {
    it('reads every option, as -c strings or cdk.json values', () => {
      const app = new App({
        context: {
          containerDataPlane: 'true',
          certificateArn: CERTIFICATE,
          containerDomainName: 's3.example.com',
          containerImage: 'public.ecr.aws/example/sealgate:1',
          containerCpu: '512',
          containerMemoryMiB: 2048,
          containerDesiredTasks: '2',
          containerMinTasks: '1',
          containerMaxTasks: '6',
          containerCpuTargetPercent: '70',
          containerRequestsPerTarget: '500',
          containerNatGateways: '1',
        },
      });
      expect(containerDataPlaneFromContext(app.node)).toEqual({
        certificateArn: CERTIFICATE,
        domainName: 's3.example.com',
        image: 'public.ecr.aws/example/sealgate:1',
        cpu: 512,
        memoryMiB: 2048,
        desiredTasks: 2,
        minTasks: 1,
        maxTasks: 6,
        cpuTargetPercent: 70,
        requestsPerTarget: 500,
        natGateways: 1,
      });
      expect(containerDataPlaneFromContext(new App({ context: { containerDataPlane: true } }).node)).toEqual(
        expect.objectContaining({ certificateArn: '' }),
      );
    });

    it('refuses a flag that is not true or false, and a count that is not a whole number', () => {
      const read = (context: Record<string, unknown>) => () =>
        containerDataPlaneFromContext(new App({ context: { containerDataPlane: 'true', ...context } }).node);
      expect(read({ containerDataPlane: 'yes' })).toThrow(/-c containerDataPlane: must be true or false/);
      expect(read({ containerCpu: '1 vCPU' })).toThrow(/-c containerCpu: must be a whole number/);
    });
  });
});
