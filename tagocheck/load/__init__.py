"""The Locust side of a load run: the options, this process's shard of the fleet, the users that
send its reports, and the coordinator that provisions, merges and writes the run directory.

Locust drives it; the fleet model it drives (tagocheck.fleet) is plain Python.
"""
