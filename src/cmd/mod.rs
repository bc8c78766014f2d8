//! One module per `triad` subcommand.
