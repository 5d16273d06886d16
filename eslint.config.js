import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".tools/", ".local-data/", "coverage/", "reports/", "bench/out/", "helm/", "k8s/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Only the entry point may touch the process (env, signals, exit code): everything else takes it as input.
    files: ["src/**/*.ts"],
    ignores: ["src/main.ts", "src/cli/cli.ts"],
    rules: {
      "no-restricted-globals": ["error", { name: "process", message: "Only src/main.ts and src/cli/cli.ts (entry points) touch process; pass values in." }],
    },
  },
);
