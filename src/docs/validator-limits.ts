import type { OpenAPIObject } from '@nestjs/swagger';
import type { ParameterObject, ResponseObject, SchemaObject } from './openapi-types';
import { TransformationType } from 'class-transformer';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { GENERIC_FIELD_CODES } from '../common/validation-codes';

/** The keywords a class-validator constraint documents: the request DTOs' validators are the one source of limits. */
function keywordsOf(metadata: ValidationMetadata): Partial<SchemaObject> {
  const constraints: unknown[] = (metadata.constraints as unknown[] | undefined) ?? [];
  const [first, second] = constraints;
  switch (metadata.name) {
    case 'isLength':
      return { minLength: first as number, ...(second !== undefined ? { maxLength: second as number } : {}) };
    case 'minLength':
      return { minLength: first as number };
    case 'maxLength':
      return { maxLength: first as number };
    case 'matches':
      // JSON Schema patterns take no flags: a case-insensitive pattern is left to the description.
      return first instanceof RegExp && !first.flags.includes('i') ? { pattern: first.source } : {};
    case 'min':
      return { minimum: first as number };
    case 'max':
      return { maximum: first as number };
    case 'isInt':
      return { type: 'integer' };
    case 'arrayMinSize':
      return { minItems: first as number };
    case 'arrayMaxSize':
      return { maxItems: first as number };
    case 'isIn':
      return Array.isArray(first) ? { enum: first as unknown[] } : {};
    default:
      return {};
  }
}

/** class name → the field codes its validators tag their faults with (`withCode`, src/common/validation-codes.ts). */
function fieldCodesByClass(): Map<string, Set<string>> {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<unknown, ValidationMetadata[]> };
  const result = new Map<string, Set<string>>();
  for (const [target, metadatas] of storage.validationMetadatas) {
    if (typeof target !== 'function') continue;
    for (const metadata of metadatas) {
      const code = (metadata.context as { code?: unknown } | undefined)?.code;
      if (typeof code !== 'string' || GENERIC_FIELD_CODES.has(code)) continue;
      const name = (target as { name: string }).name;
      result.set(name, (result.get(name) ?? new Set<string>()).add(code));
    }
  }
  return result;
}

/** The schemas a schema reaches through its properties and items (nested DTOs), itself included. */
function reachableSchemas(name: string, schemas: Record<string, SchemaObject>, seen = new Set<string>()): Set<string> {
  if (seen.has(name) || !schemas[name]) return seen;
  seen.add(name);
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') reachableSchemas(ref.split('/').pop()!, schemas, seen);
    for (const child of Object.values(node)) walk(child);
  };
  walk(schemas[name].properties);
  return seen;
}

/**
 * A 400 whose every faulty field carries one specific code answers that code at the top level (ApiError.validation):
 * each operation's 400 names the codes its body's validators can give, so that they are documented (and shown).
 */
function documentFieldCodes(document: OpenAPIObject, schemas: Record<string, SchemaObject>): void {
  const codesByClass = fieldCodesByClass();
  for (const item of Object.values(document.paths)) {
    for (const operation of [item.post, item.put, item.patch]) {
      const body = operation?.requestBody;
      const badRequest = operation?.responses['400'] as ResponseObject | undefined;
      if (!body || '$ref' in body || !badRequest) continue;
      const ref = (body.content['application/json']?.schema as { $ref?: string } | undefined)?.$ref;
      if (!ref) continue;
      const codes = new Set<string>();
      for (const name of reachableSchemas(ref.split('/').pop()!, schemas))
        for (const code of codesByClass.get(name) ?? []) codes.add(code);
      if (codes.size === 0) continue;
      badRequest.description = `${badRequest.description}; when every faulty field has the same specific code, that code: ${[...codes].sort().join(', ')}`;
    }
  }
}

/** class name → property → the keywords its validators enforce. */
function limitsByClass(): Map<string, Map<string, { own: Partial<SchemaObject>; each: Partial<SchemaObject> }>> {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<unknown, ValidationMetadata[]> };
  const result = new Map<string, Map<string, { own: Partial<SchemaObject>; each: Partial<SchemaObject> }>>();
  for (const [target, metadatas] of storage.validationMetadatas) {
    if (typeof target !== 'function') continue;
    const properties = new Map<string, { own: Partial<SchemaObject>; each: Partial<SchemaObject> }>();
    for (const metadata of metadatas) {
      // A value rewritten by @Transform (trimmed, normalised) is validated as rewritten, not as sent: its limits
      // are the description's to tell.
      const transformed = defaultMetadataStorage.findTransformMetadatas(
        target,
        metadata.propertyName,
        TransformationType.PLAIN_TO_CLASS,
      );
      if (transformed.length > 0) continue;
      const keywords = keywordsOf(metadata);
      if (Object.keys(keywords).length === 0) continue;
      const entry = properties.get(metadata.propertyName) ?? { own: {}, each: {} };
      Object.assign(metadata.each ? entry.each : entry.own, keywords);
      properties.set(metadata.propertyName, entry);
    }
    if (properties.size > 0) result.set((target as { name: string }).name, properties);
  }
  return result;
}

function apply(schema: SchemaObject, keywords: Partial<SchemaObject>): void {
  for (const [keyword, value] of Object.entries(keywords) as [string, unknown][]) {
    // A number validated as an integer (`@IsInt`) is documented as one; other types are left as the DTO says.
    if (keyword === 'type') {
      if (schema.type === 'number') schema.type = 'integer';
      continue;
    }
    // An enum given by the DTO (e.g. of a union type) stays: the validator's list is the same values.
    if (keyword === 'enum' && schema.enum) continue;
    // Length keywords only where the value is a string (a numeric query parameter is a string on the wire only).
    if ((keyword === 'minLength' || keyword === 'maxLength' || keyword === 'pattern') && schema.type !== 'string')
      continue;
    (schema as Record<string, unknown>)[keyword] = value;
  }
}

/**
 * Writes the limits the validators enforce (lengths, patterns, ranges, array sizes, integers) into the document, so
 * that what the server refuses with a 400 is what the schema says: request bodies by their DTO's schema name, query
 * parameters by their name where every query DTO that has the name validates it alike.
 */
export function documentValidatorLimits(document: OpenAPIObject): void {
  const limits = limitsByClass();
  const schemas = (document.components?.schemas ?? {}) as Record<string, SchemaObject>;
  documentFieldCodes(document, schemas);
  for (const [className, properties] of limits) {
    const schema = schemas[className];
    if (!schema?.properties) continue;
    for (const [property, { own, each }] of properties) {
      const target = schema.properties[property] as SchemaObject | undefined;
      if (!target || '$ref' in target) continue;
      apply(target, own);
      if (target.items && !('$ref' in target.items)) apply(target.items, each);
    }
  }

  // Query DTOs are inlined as parameters by @nestjs/swagger: match them by name, only where the DTOs agree.
  const byQueryName = new Map<string, string | null>();
  const keywordsOfQuery = new Map<string, Partial<SchemaObject>>();
  for (const [className, properties] of limits) {
    if (!/Query/.test(className)) continue;
    for (const [property, { own }] of properties) {
      const text = JSON.stringify(own, (_, value: unknown) => (value instanceof RegExp ? value.source : value));
      const seen = byQueryName.get(property);
      if (seen === undefined) {
        byQueryName.set(property, text);
        keywordsOfQuery.set(property, own);
      } else if (seen !== text) byQueryName.set(property, null);
    }
  }
  for (const item of Object.values(document.paths)) {
    for (const operation of [item.get, item.post, item.put, item.patch, item.delete]) {
      for (const parameter of (operation?.parameters ?? []) as ParameterObject[]) {
        if (parameter.in !== 'query' || !parameter.schema || '$ref' in parameter.schema) continue;
        if (!byQueryName.get(parameter.name)) continue;
        apply(parameter.schema, keywordsOfQuery.get(parameter.name)!);
      }
    }
  }
}
