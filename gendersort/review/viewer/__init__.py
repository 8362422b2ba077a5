"""The desktop viewer (`gendersort view`): window.py the widgets, analysis.py what it says about a photo
(tested without a display), folder.py which photos it steps through."""
