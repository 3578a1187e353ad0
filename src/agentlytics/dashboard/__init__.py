"""``agentlytics dashboard``: a live, read-only web page over a store.

The page (``static/``: plain HTML, CSS and JS, and the vendored uPlot chart library) asks the
app (:mod:`.app`) for JSON built from the query layer's reports (:mod:`.views`); the app reads
the store through short-lived read-only connections (:mod:`.reader`). Nothing is fetched from
the network: the page works offline.
"""
