//! Tokens → AST (LANGUAGE.md 3). Placeholder until the front end lands.
