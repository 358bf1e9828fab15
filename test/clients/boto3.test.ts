import { boto3 } from './drivers/boto3.js';
import { describeClientConformance } from './support/conformance.js';

describeClientConformance(boto3);
