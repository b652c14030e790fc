"""The offline base pipeline: corpus readers, gazetteers, cluster vectors."""
