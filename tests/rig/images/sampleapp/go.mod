module opsdeck.example/sampleapp

go 1.22
