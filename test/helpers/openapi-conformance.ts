/**
 * Checks an API answer against the served OpenAPI document (src/api/openapi.ts): the route's declared response for
 * that status (or the error schema for 4xx/5xx), with every object closed, so a field the API returns and the
 * document lacks is reported. A small JSON Schema reader for the keywords z.toJSONSchema emits; an unknown keyword
 * fails loudly rather than passing silently.
 */
import { matchPath, normalisePath, ROUTE_LIST } from '../../src/api/contract.js';
import { openApiDocument } from '../../src/api/openapi.js';

type Schema = Record<string, unknown>;

const ERROR_REF = { $ref: '#/components/schemas/Error' };

const KNOWN = new Set([
  '$ref',
  'anyOf',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'format',
  'description',
  'example',
  'examples',
  'default',
]);

const schemas = openApiDocument().components.schemas as Record<string, Schema>;

function resolve(s: Schema): Schema {
  const ref = s.$ref;
  if (typeof ref !== 'string') return s;
  const target = schemas[ref.replace('#/components/schemas/', '')];
  if (!target) throw new Error(`unresolved $ref ${ref}`);
  return resolve(target);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** The ways `value` breaks `schema`, as `path: problem` lines (empty when it conforms). */
export function violations(value: unknown, schemaIn: Schema, path = '$'): string[] {
  const s = resolve(schemaIn);
  const unknown = Object.keys(s).filter((k) => !KNOWN.has(k));
  if (unknown.length)
    throw new Error(`${path}: keyword(s) this checker does not read: ${unknown.join(', ')}`);
  if (Array.isArray(s.anyOf)) {
    const branches = (s.anyOf as Schema[]).map((b) => violations(value, b, path));
    if (branches.some((b) => b.length === 0)) return [];
    return [`${path}: matches no branch (${branches.map((b) => b[0]).join(' | ')})`];
  }
  const out: string[] = [];
  const t = typeOf(value);
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const ok = types.includes(t) || (t === 'integer' && types.includes('number'));
    if (!ok) return [`${path}: ${t}, expected ${types.join('|')}`];
  }
  if ('const' in s && value !== s.const) out.push(`${path}: ${JSON.stringify(value)} is not ${s.const}`);
  if (Array.isArray(s.enum) && !s.enum.includes(value))
    out.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'string' && typeof s.pattern === 'string' && !new RegExp(s.pattern).test(value)) {
    out.push(`${path}: does not match ${s.pattern}`);
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) out.push(`${path}: below ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) out.push(`${path}: above ${s.maximum}`);
  }
  if (t === 'array' && s.items) {
    (value as unknown[]).forEach((v, i) => {
      out.push(...violations(v, s.items as Schema, `${path}[${i}]`));
    });
  }
  if (t === 'object') {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const obj = value as Record<string, unknown>;
    for (const r of (s.required ?? []) as string[]) if (!(r in obj)) out.push(`${path}.${r}: missing`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) out.push(...violations(v, props[k], `${path}.${k}`));
      else if (s.additionalProperties === false) out.push(`${path}.${k}: not in the document`);
    }
  }
  return out;
}

/** The document's schema for what `method path` answers with `status`; `null` when it declares no body. */
export function documentedResponse(method: string, pathIn: string, status: number): Schema | null {
  const path = normalisePath(pathIn);
  const route = ROUTE_LIST.find((r) => r.method === method && matchPath(r.path, path));
  const paths = openApiDocument().paths as Record<
    string,
    Record<string, { responses: Record<string, unknown> }>
  >;
  const responses = route ? paths[route.path]?.[method.toLowerCase()]?.responses : undefined;
  const declared = (responses?.[String(status)] ??
    responses?.[`${Math.floor(status / 100)}XX`] ??
    // Unknown routes and wrong methods answer with the error body too.
    (status >= 400 && !route ? { content: { 'application/json': { schema: ERROR_REF } } } : undefined)) as
    | { content?: { 'application/json'?: { schema: Schema } } }
    | undefined;
  if (!declared) throw new Error(`${method} ${path}: status ${status} is not in the document`);
  return declared.content?.['application/json']?.schema ?? null;
}

/** Every way an answer departs from the document (empty when it conforms). */
export function answerViolations(method: string, path: string, status: number, body: string): string[] {
  const schema = documentedResponse(method, path, status);
  if (schema === null)
    return body === '' ? [] : [`${method} ${path} ${status}: a body the document does not declare`];
  return violations(JSON.parse(body), schema).map((v) => `${method} ${path} ${status}: ${v}`);
}
