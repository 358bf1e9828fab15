/**
 * A backend wrapper for fault-injection tests: each call of a named method may be made to fail before it
 * reaches the real backend, fail after the real backend did its work (the answer is lost, the change is
 * not), or stall for a while first. Everything else passes through to the real backend unchanged.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Backend } from '../../functions/core/backend.js';

export type FaultKind = 'fail-before' | 'fail-after' | 'stall';

export interface Fault {
  /** The Backend method, e.g. `putObject`. */
  method: keyof Backend;
  kind: FaultKind;
  /** For `stall`: milliseconds to wait before the call. */
  ms?: number;
}

/** The faults still to inject, each for one call, in order per method; tests push and inspect it. */
export class FaultPlan {
  private readonly pending: Fault[] = [];
  /** The faults injected so far, as `method:kind`. */
  readonly injected: string[] = [];

  add(fault: Fault): void {
    this.pending.push(fault);
  }

  clear(): void {
    this.pending.length = 0;
  }

  take(method: string): Fault | undefined {
    const index = this.pending.findIndex((fault) => fault.method === method);
    if (index < 0) return undefined;
    const [fault] = this.pending.splice(index, 1);
    this.injected.push(`${method}:${fault.kind}`);
    return fault;
  }
}

/** The error a failed backend call throws: what a dropped connection to a store looks like to the core. */
export class InjectedFault extends Error {
  constructor(method: string, kind: FaultKind) {
    super(`injected fault: ${method} (${kind})`);
    this.name = 'InjectedFault';
  }
}

export function faultyBackend(inner: Backend, plan: FaultPlan): Backend {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return async (...args: unknown[]) => {
        const fault = plan.take(property);
        if (fault?.kind === 'fail-before') throw new InjectedFault(property, fault.kind);
        if (fault?.kind === 'stall') await delay(fault.ms ?? 1000);
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (fault?.kind === 'fail-after') throw new InjectedFault(property, fault.kind);
        return result;
      };
    },
  });
}
