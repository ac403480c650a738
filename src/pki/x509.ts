// @peculiar/x509 needs the reflect-metadata polyfill loaded before it is
// evaluated; ES modules evaluate imports in order, so every module imports
// the library through this file.
import "reflect-metadata";

export * from "@peculiar/x509";
