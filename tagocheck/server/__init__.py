"""The embedded TagoIO-compatible target behind `tagocheck serve`.

It is a real server with real storage, written from the facts file. It is its own room: it imports
none of the suite's checks (schemas, route table, permission matrix, plans) and implements the
contract in code, so that when the contract suite runs against it, two independent readings of the
contract check each other. Its fault modes let the suite prove that each of its checks can fail.
"""
