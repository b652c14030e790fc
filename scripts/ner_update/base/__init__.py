"""The offline base pipeline: building and pretraining it, corpus readers, gazetteers, cluster vectors."""
