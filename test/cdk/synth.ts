/**
 * Synthesizes the stack for template assertions. Bundling is skipped (`aws:cdk:bundling-stacks: []`);
 * `npx cdk synth` in .ci/run bundles for real.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { deployConfigFromText } from '../../lib/deploy-config.js';
import { SealgateStack } from '../../lib/sealgate-stack.js';

export function synth(configText: string): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SealgateStack(app, 'Test', {
    deploy: deployConfigFromText('test.yaml', configText),
    secretPrefix: 'sealgate/',
    logRetention: RetentionDays.TWO_WEEKS,
  });
  return Template.fromStack(stack);
}

export type Statement = { Action: string | string[]; Resource: unknown; Sid?: string };

/** Every statement of the role's policies. */
export function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}

/** The function's environment variables as the template writes them. */
export function environment(template: Template): Record<string, unknown> {
  const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  };
  return fn.Properties.Environment.Variables;
}
