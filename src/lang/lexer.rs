//! Text → tokens (LANGUAGE.md 2). Placeholder until the front end lands.
