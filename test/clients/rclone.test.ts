import { rclone } from './drivers/rclone.js';
import { describeClientConformance } from './support/conformance.js';

describeClientConformance(rclone);
