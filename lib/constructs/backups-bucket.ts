import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag.js';

/** Object-level actions a role may be granted on the dumps; bucket-level rights are granted separately. */
export type BackupObjectAction =
  | 's3:GetObject'
  | 's3:PutObject'
  | 's3:DeleteObject'
  | 's3:AbortMultipartUpload';

/** Props of {@link BackupsBucket}. */
export interface BackupsBucketProps {
  /**
   * Days after which an object under `scheduled/` expires whatever the pruner did: a backstop to retention.
   * Must exceed the longest scheduled retention in use (12 monthly backups on premium and enterprise ≈ 366 days).
   * @default 400
   */
  readonly scheduledExpirationDays?: number;
  /**
   * Backstop for safety backups (taken before a restore or copy overwrites a database), which the pruner deletes
   * after 7 days.
   * @default 10
   */
  readonly safetyExpirationDays?: number;
  /**
   * Days a deleted or overwritten dump stays recoverable as a noncurrent version.
   * @default 7
   */
  readonly noncurrentVersionExpirationDays?: number;
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
}

/**
 * The dumps: an S3 bucket encrypted with a customer-managed KMS key (rotation on), public access blocked, TLS only,
 * versioned, with the lifecycle backstops of DESIGN §6. Bucket and key are retained when the stack is deleted:
 * backups must outlive the infrastructure that made them.
 */
export class BackupsBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly key: kms.Key;
  /** Server access log bucket, when enabled. */
  public readonly accessLogsBucket?: s3.Bucket;

  constructor(scope: Construct, id: string, props: BackupsBucketProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'pgbackups: encrypts database dumps',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    if (props.accessLogs ?? true) {
      // Log delivery cannot write to SSE-KMS buckets, hence S3-managed encryption here.
      this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycleRules: [{ expiration: Duration.days(props.accessLogsExpirationDays ?? 365) }],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(this.accessLogsBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'This is the access-log bucket of the backups bucket; logging it into itself would loop.',
      });
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket instead of one KMS call per part: cheaper and faster multipart uploads.
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: this.accessLogsBucket ? 'backups/' : undefined,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays ?? 7),
          expiredObjectDeleteMarker: true,
        },
        {
          id: 'expire-scheduled-backups',
          prefix: 'scheduled/',
          expiration: Duration.days(props.scheduledExpirationDays ?? 400),
        },
        {
          id: 'expire-safety-backups',
          prefix: 'safety/',
          expiration: Duration.days(props.safetyExpirationDays ?? 10),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
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
