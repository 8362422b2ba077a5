"""The HTML report (`gendersort report`, `evaluate --report`): build.py assembles it from results rows,
page.py is the page, thumbs.py its thumbnails, groups.py the per-group plots of an evaluation, trade_off.py
the plot of expected accuracy against the share a threshold keeps."""
