"""Reports: the read side of fulfilment. They read what the domains below wrote, each
in a fixed number of queries, and show it as pages, CSV downloads and print views:
the farm's incoming slots, pick and packing lists, the host's distribution sheet.

Reports may import any domain up to wholesale; nothing below imports reports.
"""
