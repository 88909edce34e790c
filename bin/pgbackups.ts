#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PgBackupsStack } from '../lib/pgbackups-stack.js';

// Only builds the stack. No `env`: the stack is environment-agnostic, so synth needs no AWS account or lookup.
const app = new App();
new PgBackupsStack(app, 'PgBackups');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
