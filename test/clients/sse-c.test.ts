import { awsCliSseC } from './drivers/aws-cli.js';
import { boto3SseC } from './drivers/boto3.js';
import { describeSseCConformance } from './support/sse-c-conformance.js';

describeSseCConformance(awsCliSseC);
describeSseCConformance(boto3SseC);
