import { s3cmd } from './drivers/s3cmd.js';
import { describeClientConformance } from './support/conformance.js';

describeClientConformance(s3cmd);
