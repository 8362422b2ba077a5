"""Review: look at the results afterwards: sentences, the HTML report, the viewer, evaluation."""
