import { awsCli } from './drivers/aws-cli.js';
import { describeClientConformance } from './support/conformance.js';

describeClientConformance(awsCli);
