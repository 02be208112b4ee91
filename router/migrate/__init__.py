"""Moving to router from another tool: converters that read the other tool's config and write
router's config files, with a report of what carried over, what changed meaning and what
router cannot express. Pure: files in, files out; nothing here runs the daemon.
"""
