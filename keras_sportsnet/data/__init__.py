"""Video data for keras_sportsnet: decoding, clip sampling, augmentation, datasets."""
