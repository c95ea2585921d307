// class-transformer keeps its metadata storage out of its index; its own declaration covers the CommonJS file.
declare module 'class-transformer/cjs/storage' {
  export { defaultMetadataStorage } from 'class-transformer/types/storage';
}
