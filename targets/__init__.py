"""Target profiles shipped with edgekit, one TOML file each; read by edgekit.targets."""
