//! The analysis pipeline, analysis queue workers and REST API.
