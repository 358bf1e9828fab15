import { awsCli } from './drivers/aws-cli.js';
import { boto3 } from './drivers/boto3.js';
import { rclone } from './drivers/rclone.js';
import { s3cmd } from './drivers/s3cmd.js';
import { describeClientConformance } from './support/conformance.js';

// The everyday flow of every client against a backend the gateway encrypts with its own key.
for (const client of [awsCli, boto3, rclone, s3cmd]) {
  describeClientConformance(client, { encryption: 'aes256-gcm-proxy' });
}
