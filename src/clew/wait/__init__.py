"""wait: health of each object (kstatus rules) and watching until all are terminal."""
