"""The HTML report (`gendersort report`, `evaluate --report`): build.py assembles it from results rows,
page.py is the page, thumbs.py its thumbnails, groups.py the per-group plots of an evaluation."""
