/**
 * The API description served at GET /v1/openapi.json, generated from the route table and its zod schemas
 * (src/api/contract.ts) with zod's `z.toJSONSchema`: nothing here is written by hand but the wording of the info.
 */
import { z } from 'zod';
import {
  components,
  errorSchema,
  PATH_PARAMS,
  pathParams,
  ROUTE_LIST,
  type RouteContract,
} from './contract.js';

type JsonSchema = Record<string, unknown>;

const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A schema's component id: its own if the contract named it, else one derived from the operation. */
function componentId(schema: z.ZodType, fallback: string): string {
  const existing = components.get(schema)?.id;
  if (existing) return existing;
  components.add(schema, { id: fallback });
  return fallback;
}

/** A standalone JSON Schema (parameters are not components): without the `$schema` header. */
function inline(schema: z.ZodType): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const jsonContent = (id: string) => ({ content: { 'application/json': { schema: ref(id) } } });

function operation(route: RouteContract & { operationId: string }) {
  const name = capitalised(route.operationId);
  const parameters = [
    ...pathParams(route.path).map((p) => {
      const schema = PATH_PARAMS[p as keyof typeof PATH_PARAMS];
      if (!schema) throw new Error(`${route.path}: no schema for path parameter {${p}} in PATH_PARAMS`);
      return { name: p, in: 'path', required: true, schema: inline(schema) };
    }),
    ...Object.entries(route.query?.shape ?? {}).map(([q, schema]) => ({
      name: q,
      in: 'query',
      required: false,
      schema: inline(schema as z.ZodType),
    })),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(route.responses)) {
    responses[status] = {
      description: status === '204' ? 'No content' : 'OK',
      ...(schema ? jsonContent(componentId(schema, `${name}Response`)) : {}),
    };
  }
  const error = { description: 'Error', ...jsonContent(componentId(errorSchema, 'Error')) };
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: !route.body.optional,
            ...jsonContent(componentId(route.body.schema, `${name}Request`)),
          },
        }
      : {}),
    responses: { ...responses, '4XX': error, '5XX': error },
  };
}

function buildDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTE_LIST) {
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation(route) };
  }
  const generated = z.toJSONSchema(components, {
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: 'any',
  }).schemas;
  const schemas = Object.fromEntries(
    Object.entries(generated).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'pgbackups',
      version: '1',
      description:
        'Logical PostgreSQL backups: capture, list, download, restore. Authenticated with AWS SigV4 (IAM).',
    },
    paths,
    components: { schemas },
  };
}

let built: ReturnType<typeof buildDocument> | undefined;

/** Built on first use rather than at import, so a Lambda cold start that does not serve it does not pay for it. */
export function openApiDocument(): ReturnType<typeof buildDocument> {
  built ??= buildDocument();
  return built;
}
