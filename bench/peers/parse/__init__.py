"""Parse Server as a peer of Cleave in bench/load: installed from npm (pinned here, under
var/peers/parse), started on its own PostgreSQL database with LiveQuery, set up as a chat app."""
