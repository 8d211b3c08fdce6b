DROP TABLE coaches;
