"""Published tables and figures of the seed papers, as data, and their reproductions."""
