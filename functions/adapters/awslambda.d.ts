/**
 * The few globals the Node.js Lambda runtime defines for response streaming (`awslambda`), declared here
 * rather than pulling in `@types/aws-lambda` for three names. Only the function URL adapter and the Lambda
 * handler use them; the local server never touches them, and the core knows nothing of Lambda.
 */
import type { Writable } from 'node:stream';

/** The stream a streaming handler writes its response to (a Writable that also takes a content type). */
export interface LambdaResponseStream extends Writable {
  setContentType(contentType: string): void;
}

/** What `HttpResponseStream.from` sends ahead of the body: the function URL turns it into the status line and headers. */
export interface HttpResponseMetadata {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/** The parts of the Lambda invocation context the gateway reads. */
export interface LambdaContext {
  awsRequestId: string;
  functionName: string;
  functionVersion?: string;
  invokedFunctionArn?: string;
  memoryLimitInMB?: string;
  getRemainingTimeInMillis(): number;
}

export type StreamingHandler<TEvent> = (
  event: TEvent,
  responseStream: LambdaResponseStream,
  context: LambdaContext,
) => Promise<void>;

export interface AwsLambdaStreamingGlobals {
  /** Marks a handler as streaming: Lambda then passes it a response stream instead of awaiting a return value. */
  streamifyResponse<TEvent>(
    handler: StreamingHandler<TEvent>,
    options?: { highWaterMark?: number },
  ): StreamingHandler<TEvent>;
  HttpResponseStream: {
    /**
     * Makes `stream` send `metadata` as a JSON prelude plus an 8-byte NUL separator before the first byte
     * written with `write()`. `end()` alone does not send it (see the adapter for why that matters).
     */
    from(stream: LambdaResponseStream, metadata: HttpResponseMetadata): LambdaResponseStream;
  };
}

declare global {
  /** Defined by the Lambda Node.js runtime (and by the test emulator); undefined anywhere else. */
  var awslambda: AwsLambdaStreamingGlobals;
}
