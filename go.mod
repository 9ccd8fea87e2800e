module github.com/ssmc-dev/ssmc

go 1.26
