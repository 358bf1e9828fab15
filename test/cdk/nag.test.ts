/**
 * cdk-nag's AwsSolutions rules over the whole stack, as CDK's validation plugin runs them at synth: every
 * finding is fixed in the stack or acknowledged there with its reason, one exact finding at a time
 * (lib/sealgate-stack.ts `acknowledgeWildcard`), so a new wildcard or a new weakness fails this test.
 * The example deploy config and one that routes more buckets and keys, with the container data plane on
 * and off.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';

import { readDeployConfig } from '../../lib/deploy-config.js';
import { SealgateStack, type SealgateStackProps } from '../../lib/sealgate-stack.js';

interface Violation {
  ruleName: string;
  violatingConstructs: { constructPath: string }[];
}

/** The AwsSolutions findings left after the stack's acknowledgements, as `rule at construct` lines. */
function findings(
  props: Partial<SealgateStackProps> = {},
  weaken?: (stack: SealgateStack) => void,
): string[] {
  const outdir = mkdtempSync(join(tmpdir(), 'sealgate-nag-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new SealgateStack(app, 'Nag', {
      deploy: readDeployConfig('deploy/sealgate.example.yaml', {}),
      logRetention: RetentionDays.ONE_MONTH,
      ...props,
    });
    weaken?.(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    let failed: unknown;
    try {
      app.synth();
    } catch (error) {
      failed = error; // the plugin fails the synth on an unacknowledged error; the report says which
    }
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: Violation[] }[];
    };
    // A clean run reports no plugin at all; the last test shows the pack does run.
    const nag = report.pluginReports.find((p) => p.pluginName === 'AwsSolutions');
    const left = (nag?.violations ?? []).flatMap((v) =>
      v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`),
    );
    if (left.length === 0) expect(failed).toBeUndefined();
    return left;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

describe('cdk-nag AwsSolutions checks', () => {
  it('leave no finding on the stack deployed with the example config', () => {
    expect(findings()).toEqual([]);
  });

  it('leave no finding with a deployment KMS key the stack creates', () => {
    expect(findings({ kmsKey: 'create' })).toEqual([]);
  });

  it('leave no finding with the container data plane on', () => {
    expect(
      findings({
        containerDataPlane: {
          certificateArn:
            'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
        },
      }),
    ).toEqual([]);
  });

  it('do run: a role with a wildcard added to the stack is a finding', () => {
    const left = findings({}, (stack) => {
      new Role(stack, 'Careless', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }).addToPolicy(
        new PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::anything/*'] }),
      );
    });
    expect(left).toEqual([
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::arn:aws:s3:::anything\/\*\] at Nag\/Careless/),
    ]);
  });
});
