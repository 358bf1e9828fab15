/**
 * The container data plane's settings as the CDK app takes them: cdk.json context or `-c KEY=VALUE` (see
 * bin/sealgate.ts). The plane is off unless `containerDataPlane` is true; its other keys are then read,
 * and left alone while it is off, so cdk.json may keep them for a later deploy.
 */
import type { Node } from 'constructs';
import { ConfigError } from '../functions/core/config/config-error.js';
import { CONTEXT_KEYS, type ContainerDataPlaneOptions } from './container-data-plane.js';

export const CONTAINER_DATA_PLANE_KEY = 'containerDataPlane';

/** `-c` values arrive as strings, cdk.json values as themselves. */
function flag(node: Node, key: string): boolean {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new ConfigError(`-c ${key}`, 'must be true or false');
}

function text(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigError(`-c ${key}`, 'must be a string');
  return value;
}

function count(node: Node, key: string): number | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) {
    throw new ConfigError(`-c ${key}`, 'must be a whole number');
  }
  return number;
}

/** The plane's options from context, or undefined when it is off. */
export function containerDataPlaneFromContext(node: Node): ContainerDataPlaneOptions | undefined {
  if (!flag(node, CONTAINER_DATA_PLANE_KEY)) return undefined;
  return {
    // Missing, it is refused by the construct with the reason.
    certificateArn: text(node, CONTEXT_KEYS.certificateArn) ?? '',
    domainName: text(node, CONTEXT_KEYS.domainName),
    image: text(node, CONTEXT_KEYS.image),
    cpu: count(node, CONTEXT_KEYS.cpu),
    memoryMiB: count(node, CONTEXT_KEYS.memoryMiB),
    desiredTasks: count(node, CONTEXT_KEYS.desiredTasks),
    minTasks: count(node, CONTEXT_KEYS.minTasks),
    maxTasks: count(node, CONTEXT_KEYS.maxTasks),
    cpuTargetPercent: count(node, CONTEXT_KEYS.cpuTargetPercent),
    requestsPerTarget: count(node, CONTEXT_KEYS.requestsPerTarget),
    natGateways: count(node, CONTEXT_KEYS.natGateways),
  };
}
