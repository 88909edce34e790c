import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CHECK_OBJECT_EXPIRY_DAYS, CHECK_OBJECT_PREFIX } from '../../src/core/check.js';
import { BUCKET_LIFECYCLE } from '../../src/core/retention.js';
import { acknowledgeGuard, acknowledgeWildcardResource, denyGrantsExceptForAwsServices } from '../nag.js';

/** Object-level actions a role may be granted on the dumps; bucket-level rights are granted separately. */
export type BackupObjectAction =
  | 's3:GetObject'
  | 's3:PutObject'
  | 's3:DeleteObject'
  | 's3:AbortMultipartUpload';

/** A bucket and key kept by an earlier stack (RETAIN_ON_UPDATE_OR_DELETE), adopted instead of creating new ones. */
export interface ExistingBackups {
  /** Name of the retained backups bucket. */
  readonly bucketName: string;
  /** ARN of the retained key that encrypts it. */
  readonly keyArn: string;
}

/** Props of {@link BackupsBucket}. */
export interface BackupsBucketProps {
  /**
   * Keep S3 server access logs (who downloaded which dump) in a separate bucket.
   * @default true
   */
  readonly accessLogs?: boolean;
  /**
   * Days the access logs are kept.
   * @default 365
   */
  readonly accessLogsExpirationDays?: number;
  /**
   * Adopt the bucket and key a deleted stack left behind, dumps included. The stack then creates neither, and
   * leaves their lifecycle and access logging as they were; it still enforces TLS with a bucket policy.
   * @default - a new bucket and key
   */
  readonly existing?: ExistingBackups;
}

/**
 * The dumps: an S3 bucket encrypted with a customer-managed KMS key (rotation on), public access blocked, TLS only,
 * versioned, with the lifecycle of {@link BUCKET_LIFECYCLE} (derived from the retention engine). Bucket and key are
 * retained when the stack is deleted or replaces them (backups must outlive the infrastructure that made them),
 * but removed when the deploy that created them rolls back, so a failed first deploy leaves nothing behind.
 */
export class BackupsBucket extends Construct {
  public readonly bucket: s3.IBucket;
  public readonly key: kms.IKey;
  /** Server access log bucket, when enabled. */
  public readonly accessLogsBucket?: s3.Bucket;

  constructor(scope: Construct, id: string, props: BackupsBucketProps = {}) {
    super(scope, id);
    if (props.existing) {
      this.key = kms.Key.fromKeyArn(this, 'Key', props.existing.keyArn);
      this.bucket = s3.Bucket.fromBucketAttributes(this, 'Bucket', {
        bucketName: props.existing.bucketName,
        encryptionKey: this.key,
      });
      // The retained bucket lost its policy with the old stack (policies are not retained); TLS only again.
      const policy = new s3.BucketPolicy(this, 'Policy', { bucket: this.bucket });
      policy.document.addStatements(
        new iam.PolicyStatement({
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['s3:*'],
          resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
          conditions: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      return;
    }

    const key = new kms.Key(this, 'Key', {
      description: 'pgbackups: encrypts database dumps',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    key.addToResourcePolicy(denyGrantsExceptForAwsServices());
    this.key = key;

    if (props.accessLogs ?? true) {
      // Log delivery cannot write to SSE-KMS buckets, hence S3-managed encryption here.
      this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycleRules: [{ expiration: Duration.days(props.accessLogsExpirationDays ?? 365) }],
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      });
      Validations.of(this.accessLogsBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'This is the access-log bucket of the backups bucket; logging it into itself would loop.',
      });
      acknowledgeGuard(this.accessLogsBucket, {
        s3_bucket_logging_enabled_check:
          'This is the access-log bucket of the backups bucket; logging it into itself would loop',
        s3_bucket_default_encryption_kms_check:
          'S3 server access log delivery cannot write to an SSE-KMS bucket; SSE-S3 encrypts it at rest',
        s3_bucket_versioning_enabled_check:
          'Access logs are written once by S3 and expire by lifecycle; versions would only keep expired logs',
        s3_event_notifications_enabled_check: 'Nothing reacts to access-log objects',
        s3_bucket_object_lock_enabled_check:
          'Logs expire by lifecycle; object lock would keep them past it (and cannot be undone)',
      });
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      // One data key per bucket instead of one KMS call per part: cheaper and faster multipart uploads.
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: this.accessLogsBucket ? 'backups/' : undefined,
      lifecycleRules: [
        {
          id: 'abort-incomplete-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(BUCKET_LIFECYCLE.abortIncompleteUploadDays),
        },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(BUCKET_LIFECYCLE.noncurrentVersionDays),
          expiredObjectDeleteMarker: true,
        },
        {
          id: 'expire-safety-backups',
          prefix: 'safety/',
          expiration: Duration.days(BUCKET_LIFECYCLE.safetyExpirationDays),
        },
        {
          // `pgbackups doctor` deletes its probe object itself; this catches one a failed check left behind.
          id: 'expire-check-objects',
          prefix: CHECK_OBJECT_PREFIX,
          expiration: Duration.days(CHECK_OBJECT_EXPIRY_DAYS),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    acknowledgeGuard(this.bucket, {
      s3_event_notifications_enabled_check:
        'Dumps are written and deleted by pgbackups itself, which records each in the catalog; no event consumer exists',
      s3_bucket_object_lock_enabled_check:
        'Retention deletes dumps on schedule (src/core/retention.ts) and users delete backups on request; object lock would forbid both. Versioning keeps a deleted dump 7 days',
    });
  }

  /**
   * Grants object-level `actions` on every dump, plus the KMS rights they need: reads decrypt, writes generate
   * data keys (and decrypt, which multipart uploads require).
   */
  grantObjects(grantee: iam.IGrantable, ...actions: BackupObjectAction[]): void {
    const objects = this.bucket.arnForObjects('*');
    iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [objects] });
    acknowledgeWildcardResource(
      grantee,
      objects,
      `Dump keys are created at run time (<type>/<app>/<database>/<id>.dump); only ${actions.join(', ')} on objects of this one bucket`,
    );
    const kmsActions = new Set<string>();
    for (const action of actions) {
      if (action === 's3:GetObject') kmsActions.add('kms:Decrypt');
      if (action === 's3:PutObject') {
        kmsActions.add('kms:GenerateDataKey');
        kmsActions.add('kms:Decrypt');
      }
    }
    if (kmsActions.size > 0) {
      iam.Grant.addToPrincipal({ grantee, actions: [...kmsActions].sort(), resourceArns: [this.key.keyArn] });
    }
  }

  /** Grants `s3:ListBucket` (listing keys under a prefix). */
  grantList(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
  }
}
