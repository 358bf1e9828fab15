/**
 * Synthesizes the stack for template assertions. Bundling is skipped (`aws:cdk:bundling-stacks: []`);
 * `npx cdk synth` in .ci/run bundles for real.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { deployConfigFromText } from '../../lib/deploy-config.js';
import { SealgateStack } from '../../lib/sealgate-stack.js';

/** A small deploy config: one AWS S3 backend with one routed bucket, and an admin credential. */
export const MINIMAL_CONFIG = `
backends:
  - name: aws
    type: s3
    region: eu-west-1
buckets:
  - name: photos
    backend: aws
credentials:
  - access_key_id: SGADMIN
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
`;

export interface SynthOptions {
  secretPrefix?: string;
  configTableKeyArn?: string;
  kmsKey?: string;
  alarmEmail?: string;
  /** Where the cloud assembly goes (default: CDK's own temporary folder). */
  outdir?: string;
}

/** The stack itself, for annotations. */
export function synthStack(configText: string, options: SynthOptions = {}): SealgateStack {
  const app = new App({ outdir: options.outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  return new SealgateStack(app, 'Test', {
    deploy: deployConfigFromText('test.yaml', configText, { secretPrefix: options.secretPrefix }),
    configTableKeyArn: options.configTableKeyArn,
    kmsKey: options.kmsKey,
    alarmEmail: options.alarmEmail,
    logRetention: RetentionDays.TWO_WEEKS,
  });
}

export function synth(configText: string, options: SynthOptions = {}): Template {
  return Template.fromStack(synthStack(configText, options));
}

/**
 * Synthesizes the whole cloud assembly (what `cdk synth` writes to cdk.out: templates, manifests, asset
 * descriptions, tree) into a temporary folder, and gives every file's text by its name there.
 */
export function synthAssembly(configText: string, options: SynthOptions = {}): Map<string, string> {
  const outdir = mkdtempSync(join(tmpdir(), 'sealgate-cdk-out-'));
  try {
    (synthStack(configText, { ...options, outdir }).node.root as App).synth();
    const files = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const file = join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else files.set(file.slice(outdir.length + 1), readFileSync(file, 'utf8'));
      }
    };
    walk(outdir);
    return files;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export type Statement = {
  Action: string | string[];
  Resource: unknown;
  Sid?: string;
  Condition?: Record<string, unknown>;
};

/**
 * Every statement of one role's policies: the gateway function's role by default, another by the prefix of
 * its logical id (`JobTaskRole`, `JobsRole`), or every role's with `'all'`.
 */
export function statements(template: Template, role = 'GatewayRole'): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => {
      if (role === 'all') return true;
      const roles = (policy as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles;
      return roles.some((r) => r.Ref.startsWith(role));
    })
    .flatMap(
      (policy) =>
        (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
}

/** A function's environment variables as the template writes them (the gateway's by default). */
export function environment(template: Template, fn = 'Gateway'): Record<string, unknown> {
  const [, found] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
    new RegExp(`^${fn}[0-9A-F]{8}$`).test(id),
  ) as [string, { Properties: { Environment: { Variables: Record<string, unknown> } } }];
  return found.Properties.Environment.Variables;
}

/** A Lambda ARN put where the template references the task function (the local runner runs tasks by state name). */
export const TASK_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:sealgate-job-task';

/** The job state machine's definition as the template writes it, with the task function's ARN filled in. */
export function synthesizedJobDefinition(template: Template): Record<string, unknown> {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as {
    Properties: { DefinitionString: string | { 'Fn::Join': [string, unknown[]] } };
  }[];
  const definition = machine.Properties.DefinitionString;
  const text =
    typeof definition === 'string'
      ? definition
      : definition['Fn::Join'][1]
          .map((part) => (typeof part === 'string' ? part : TASK_FUNCTION_ARN))
          .join('');
  return JSON.parse(text) as Record<string, unknown>;
}
