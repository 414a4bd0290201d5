module opsdeck.example/logship

go 1.22
