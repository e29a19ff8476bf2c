import { S3Client } from '@aws-sdk/client-s3';

// The one S3 client configuration: credentials and region through the AWS SDK's standard chain (environment,
// AWS_PROFILE, ~/.aws/config and credentials, SSO, instance roles), an endpoint for services other than AWS,
// and path-style addressing whenever an endpoint is set (MinIO and most self-hosted servers have no wildcard
// DNS for bucket.host names). Checksums only where S3 requires them: the SDK's default CRC32 trailers broke
// Cloudflare R2 uploads in the past, and our own SHA-256 of the stored object is checked on the way back.

export interface S3Settings {
  endpoint?: string | undefined;
  region?: string | undefined;
}

/** The endpoint the user chose, by the SDK's own variable names first, then ours. */
export function s3Settings(env: NodeJS.ProcessEnv = process.env): S3Settings {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || env.NUAGENT_S3_ENDPOINT || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  return { endpoint, region };
}

export function createS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  // The SDK warns on Node 20 that its releases after early 2027 need Node 22: a note for us (see README), not
  // for every user running a backup.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { endpoint, region } = s3Settings(env);
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // With a custom endpoint and no region anywhere, us-east-1 is what MinIO and R2 (as an alias of "auto")
    // accept; against AWS itself a missing region stays the SDK's own error.
    ...(region ? { region } : endpoint ? { region: 'us-east-1' } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    // Without a connect timeout, an address that drops packets waits for the kernel's (minutes); the idle timeout
    // ends a transfer whose server stopped answering.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
}
