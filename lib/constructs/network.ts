import { Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeGuard, acknowledgeLogGroup } from '../nag.js';

/** Props of {@link Network}. Give `vpcId` and `subnetIds` to use an existing VPC; nothing is looked up at synth. */
export interface NetworkProps {
  /**
   * An existing VPC to run the worker in (the one your databases live in). Requires `subnetIds`.
   * @default - a new VPC with public subnets, no NAT gateway, and S3/DynamoDB gateway endpoints
   */
  readonly vpcId?: string;
  /**
   * Subnets of `vpcId` for the worker's tasks. They need a route to ECR, S3, DynamoDB, Secrets Manager and
   * CloudWatch Logs: a NAT gateway, VPC endpoints, or public subnets with `assignPublicIp`.
   * @default - the new VPC's public subnets
   */
  readonly subnetIds?: readonly string[];
  /**
   * Security group for the worker's tasks.
   * @default - a new group with no inbound rules and all outbound traffic allowed
   */
  readonly securityGroupId?: string;
  /**
   * Give tasks a public IP (needed in public subnets without NAT, to pull the image and reach AWS APIs).
   * @default - true for the new VPC, false for an existing one
   */
  readonly assignPublicIp?: boolean;
  /**
   * Security groups of your databases (for example an RDS instance's): each gets an inbound rule from the worker's
   * group on `databasePort`, so the worker can connect.
   * @default []
   */
  readonly databaseSecurityGroupIds?: readonly string[];
  /**
   * Port the inbound rules on `databaseSecurityGroupIds` open.
   * @default 5432
   */
  readonly databasePort?: number;
  /**
   * Availability zones used by the new VPC.
   * @default 2
   */
  readonly maxAzs?: number;
}

/**
 * Where the worker runs: a new VPC by default, or an existing VPC, subnets and security group, referenced by id so
 * synth stays offline (no `Vpc.fromLookup`).
 */
export class Network extends Construct {
  public readonly vpc: ec2.IVpc;
  /** Subnet ids for the worker's `awsvpc` network configuration. */
  public readonly subnetIds: string[];
  /** The worker's security group. */
  public readonly securityGroup: ec2.ISecurityGroup;
  public readonly assignPublicIp: boolean;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    if (props.vpcId) {
      if (!props.subnetIds || props.subnetIds.length === 0) {
        throw new Error(
          'An existing VPC (vpcId) needs subnetIds for the worker tasks: pass them as props or context',
        );
      }
      // Only the id matters to the cluster and security group; tasks get their subnets per RunTask. The AZs are
      // resolved by CloudFormation, so nothing is looked up at synth.
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: props.vpcId,
        availabilityZones: Fn.getAzs(),
      });
      this.subnetIds = [...props.subnetIds];
      this.assignPublicIp = props.assignPublicIp ?? false;
    } else {
      const vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: props.maxAzs ?? 2,
        // Public subnets and public task IPs instead of a NAT gateway (~$33/month idle); the task's security group
        // accepts no inbound traffic.
        natGateways: 0,
        // Tasks get a public IP from RunTask (assignPublicIp); nothing else should get one by default.
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        ],
        gatewayEndpoints: {
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
          DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        },
        restrictDefaultSecurityGroup: true,
      });
      const flowLogs = new logs.LogGroup(this, 'FlowLogsGroup', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      acknowledgeLogGroup(flowLogs);
      // CDK's own function that strips the default security group's rules (restrictDefaultSecurityGroup).
      const restrictDefaultSg = Stack.of(this).node.tryFindChild(
        'Custom::VpcRestrictDefaultSGCustomResourceProvider',
      );
      if (restrictDefaultSg) {
        acknowledgeGuard(restrictDefaultSg, {
          lambda_inside_vpc_check:
            'CDK custom resource that runs once per deploy and calls only the EC2 API to remove the default security group rules',
        });
      }
      vpc.addFlowLog('FlowLogs', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) });
      this.vpc = vpc;
      this.subnetIds = vpc.publicSubnets.map((s) => s.subnetId);
      this.assignPublicIp = props.assignPublicIp ?? true;
    }

    this.securityGroup = props.securityGroupId
      ? ec2.SecurityGroup.fromSecurityGroupId(this, 'WorkerSecurityGroup', props.securityGroupId)
      : new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
          vpc: this.vpc,
          description: 'pgbackups worker tasks: no inbound, outbound to databases and AWS APIs',
          allowAllOutbound: true,
        });

    const port = props.databasePort ?? 5432;
    (props.databaseSecurityGroupIds ?? []).forEach((groupId, i) => {
      new ec2.CfnSecurityGroupIngress(this, `DatabaseIngress${i}`, {
        groupId,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        sourceSecurityGroupId: this.securityGroup.securityGroupId,
        description: 'pgbackups worker to PostgreSQL',
      });
    });
  }
}
