// Lint: the recommended rules of ESLint and typescript-eslint, on sources and tests.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "data/**", "sealpost-demo/**", "sealpost-soak/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", Buffer: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-control-regex": "off",
    },
  },
  {
    // The console's page scripts (plain ES modules run by the browser).
    files: ["web/**/*.js"],
    languageOptions: {
      sourceType: "module",
      globals: { window: "readonly", document: "readonly", navigator: "readonly", location: "readonly", history: "readonly", fetch: "readonly", Node: "readonly", Event: "readonly", Blob: "readonly", atob: "readonly", btoa: "readonly" },
    },
  },
);
