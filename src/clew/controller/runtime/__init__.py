"""The runtime: work queue, informers, leader election, HTTP servers."""
