import 'aws-sdk-client-mock-vitest/extend';

// The AWS SDK warns once per process that Node 20 support ends in 2027 (the Lambdas and the worker run Node 22);
// in tests, as in `npm run local` (src/local/main.ts), that banner is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
