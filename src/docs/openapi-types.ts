import type { OpenAPIObject } from '@nestjs/swagger';

/** Parts of the document's type, derived from OpenAPIObject (@nestjs/swagger exports the whole type only). */
type PathItem = OpenAPIObject['paths'][string];
export type OperationObject = NonNullable<PathItem['get']>;
export type ParameterObject = Extract<NonNullable<OperationObject['parameters']>[number], { in: string }>;
export type ResponseObject = Extract<OperationObject['responses'][string], { description: string }>;
export type SchemaObject = Exclude<NonNullable<ParameterObject['schema']>, { $ref: string }>;
export type SecurityRequirementObject = NonNullable<OperationObject['security']>[number];
