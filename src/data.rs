//! Labelled dataset: loading, family-wise splits, seed expansion (generator), background sampling.
