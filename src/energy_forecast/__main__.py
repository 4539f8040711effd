from energy_forecast.cli import main

main()
